"""The child-protection system, in layers; each imports only the layers below it:

    entrypoints/  the `protect` command, the REST API, the web pages
    runtime/      the processes: local system, cluster, proxy, dispatcher, sweep
    services/     the use cases, one per action
    adapters/     case store, audit, outbox, Prefect, webhooks, robots, data-quality gate
    config/       settings, the rules files, the words for every code
    domain/       pure rules

docs/engine.md draws them and follows a request through them.
"""
