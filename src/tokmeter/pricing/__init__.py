"""Prices: resolution from genai-prices, overrides, modifiers, the price memo, grouped pricing."""
