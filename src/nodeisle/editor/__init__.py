"""The local web editor: `nodeisle editor` (docs/editor.md). Needs the `editor` extra (Starlette, uvicorn)."""
