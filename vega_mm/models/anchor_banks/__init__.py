from .anchor_bank import AnchorBank, anchor_banks_from

__all__ = ['AnchorBank', 'anchor_banks_from']
