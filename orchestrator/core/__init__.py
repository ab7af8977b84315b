"""What every part of the service shares: settings, the database and security primitives."""
