"""Tests of the roof: the app factory and the hub pages."""
