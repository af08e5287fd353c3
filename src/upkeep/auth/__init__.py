"""Bearer tokens with a role at a scope, and the caller of each request."""
