"""Where a person comes in: the `protect` command, the REST API and the web pages. Each calls
the use cases in app/services and nothing below them holds a request."""
