from .conversation_classifier import ConversationClassifier

__all__ = ['ConversationClassifier']
