"""The worker bus: value codec, sans-I/O frame protocol, asyncio peer, transports."""
