"""Label Studio: the client (the only module that imports the SDK), its task formats,
the bot's calls and a local server."""
