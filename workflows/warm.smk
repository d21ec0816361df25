# Warm starts (benchmark/warm.py): on a local run, one server imports torch once and forks every
# training job from there, instead of each job importing it (about 4 s a job on 2 cores). The
# records are the same either way. `warm_start: false` turns it off; cluster executors never use
# it (their jobs run in jobs of their own, elsewhere).


onstart:
    if warm.wanted(config, workflow):
        warm.start(threads=config["threads"])


onsuccess:
    warm.stop()


onerror:
    warm.stop()
