"""Entry points: the outermost room, where requests from people and schedulers come in.

`api/` is the FastAPI service (app factory, schemas, routes, dependencies); a web UI will live in
`ui/` beside it and share its dependencies. Entry points get every collaborator from
`llm_engineering.bootstrap` and call application use cases; no module below this package imports it.
`tools/*.py` are the command-line doors: thin scripts over this package and `bootstrap`.
"""
