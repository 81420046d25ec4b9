"""The service desk's dashboard: server-rendered pages over the desk service layer.

`app.create_app` builds the Starlette application; `auth` holds everything about who may
use it (passwords, sessions, CSRF, security headers); `metrics` renders the Prometheus
page. The pages only call `pipeline.desk` (views and actions), so the dashboard and the
CLI always show and do the same thing.
"""
