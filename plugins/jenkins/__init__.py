"""The Jenkins layer under the Jenkins plugins: its REST API (`client`) and the config.xml documents it takes
(`config`)."""

from devstream.plugins.jenkins.client import PASSWORD_ENV, JenkinsClient, job_url_path

__all__ = ["PASSWORD_ENV", "JenkinsClient", "job_url_path"]
