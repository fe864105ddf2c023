"""The customer's side of the product in Chainlit: identity, history, and rendering engine events."""
