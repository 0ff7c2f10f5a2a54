"""The HTTP side: the Klein application and the request body limit."""
