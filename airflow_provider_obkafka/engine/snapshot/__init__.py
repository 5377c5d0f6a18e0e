"""The full sync's reader: primary-key chunk planning, the chunk SQL, rendering on the server."""
