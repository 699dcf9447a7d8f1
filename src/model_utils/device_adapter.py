"""Picks the local or the ModelArts adapter from the config (zoo API, without a global config)."""
from src.model_utils import local_adapter, moxing_adapter


def get_adapter(config):
    return moxing_adapter if config.enable_modelarts else local_adapter


def get_device_id(config):
    return get_adapter(config).get_device_id()


def get_device_num(config):
    return get_adapter(config).get_device_num()


def get_rank_id(config):
    return get_adapter(config).get_rank_id()


def get_job_id(config):
    return get_adapter(config).get_job_id()
