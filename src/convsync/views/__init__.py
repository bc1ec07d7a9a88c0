"""What people read: the Rich renderings the CLI and the demo share."""
