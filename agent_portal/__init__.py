"""The human agents' side: a python-socketio server and the portal page at /portal."""
