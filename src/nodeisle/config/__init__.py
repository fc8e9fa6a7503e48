"""Configuration and secrets: the setting table and the frozen engine config (table), the config
layers and their precedence (store), the engine home and registered libraries (settings), ``.env``
secrets (secrets, dotenv), atomic files (files), and what the worker runtime shares (views, its view
of both, and defaults: standard library only, also imported by workers)."""
