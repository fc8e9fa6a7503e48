"""Configuration and secrets: typed settings and their precedence (store), the engine home and
registered libraries (settings), ``.env`` secrets (secrets, dotenv), atomic files (files), and the
worker's view of both (views: standard library only, also imported by workers)."""
