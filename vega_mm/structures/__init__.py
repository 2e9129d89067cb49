from .conversation_data_sample import ConversationDataSample
from .splits import make_val_split, natural_key

__all__ = ['ConversationDataSample', 'make_val_split', 'natural_key']
