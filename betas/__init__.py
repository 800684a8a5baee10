"""The beta core: settings, database, people and tokens, the beta and its life, the doors' kits."""
