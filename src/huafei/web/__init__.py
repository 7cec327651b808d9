"""HTTP: the FastAPI application, problem details, health and metrics."""
