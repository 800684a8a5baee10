"""The roof: the app factory and the hub pages, where every package of Shipcall meets."""
