"""Channel profiles, versioned rate cards, quotes and the recycling agreement."""
