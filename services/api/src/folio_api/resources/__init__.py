"""The API's resources: one module per group of routes."""
