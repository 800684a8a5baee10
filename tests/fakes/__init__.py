"""Fakes of the outside services Shipcall talks to, speaking their real protocols."""
