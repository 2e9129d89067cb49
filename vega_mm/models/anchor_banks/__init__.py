from .anchor_bank import AnchorBank

__all__ = ['AnchorBank']
