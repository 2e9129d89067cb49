# Runtime shared by every vega_mm experiment.
default_scope = 'vega_mm'
# Builds the runner after applying the config's one `modalities` declaration to the
# model, datasets and pipelines (vega_mm.engine.ConversationRunner).
runner_type = 'ConversationRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Keep the last checkpoint (for --resume) and the best one on the VALIDATION split,
    # written atomically: a kill during a save never loses the previous checkpoint.
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=1,
        save_best='erc/weighted_f1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Per-epoch seeding: a resumed run draws the same random numbers as an
    # uninterrupted one.
    epoch_seed=dict(type='EpochSeedHook'),
    # Distillation weights (no warm-up in the faithful configs) and temperature logging.
    self_distillation=dict(type='SelfDistillationHook', warmup_epochs=0),
    # Early stopping on the validation metric; its counter survives --resume.  A config
    # changes it by merging, e.g. default_hooks = dict(early_stopping=dict(patience=8)).
    early_stopping=dict(
        type='ResumableEarlyStoppingHook', monitor='erc/weighted_f1', rule='greater',
        patience=30),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=64, deterministic=False)
