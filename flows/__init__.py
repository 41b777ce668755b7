"""One Prefect flow per procedure, grouped by protection area; `steps` holds the building blocks."""
