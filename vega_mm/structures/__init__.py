from .conversation_data_sample import ConversationDataSample

__all__ = ['ConversationDataSample']
