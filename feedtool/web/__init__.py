"""The web side of `feedtool serve`: the feeds of output_dir, a status page, OPML.

`app.create_app` builds the ASGI application (Starlette); `feedtool.serve` runs it on uvicorn.
Templates and the stylesheet are package data in templates/ and static/.
"""
