"""The use cases: one function per thing a person or a flow does (open a case, start a procedure,
complete a task, take a hotline report, import a screening list, compute the indicators), each
in one transaction, shared by the CLI, the API, the pages, the flows and the tests."""
