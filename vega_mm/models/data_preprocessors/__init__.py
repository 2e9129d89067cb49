from .conversation_preprocessor import ConversationDataPreprocessor

__all__ = ['ConversationDataPreprocessor']
