"""wabot: the spine. Webhook intake, customers, the outbox and the Graph API client."""
