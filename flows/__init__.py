"""What the bot says: intents, segment-aware replies and the rasa-sdk actions."""
