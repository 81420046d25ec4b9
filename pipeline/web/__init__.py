"""The service desk's dashboard: server-rendered pages over the desk service layer.

`app.create_app` builds the Starlette application from its route table: `pages` (GET)
and `actions` (POST) over `pipeline.desk`, so the dashboard and the CLI always show and
do the same thing; `login`, and `health` for machines. Who may use it: `access`
(Starlette's authentication middleware over server-side `sessions`), `guards`, `cookie`,
`csrf`, `throttling`, `passwords`, `users` and `accounts`; `headers` puts the security
headers on every response.
"""
