"""The HTTP server adapters (uvicorn, granian) and Kestrel's request limits in front of the app."""
