"""The HTTP service: the Starlette app (`app`), the request path (`pipeline`) and the
streaming relay (`streaming`)."""
