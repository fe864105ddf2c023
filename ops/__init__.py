"""What an operator's tools call: health checks and Prometheus metrics."""
