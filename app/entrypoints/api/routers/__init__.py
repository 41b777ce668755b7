"""The API's routers, one per area of the service layer."""
