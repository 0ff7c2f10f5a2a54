"""Authentication (API keys, passwords, IP whitelists) and permissions."""
