# [[ AppName ]]

A [[ Repo.Name ]] Flask service, owned by [[ team ]]. Scaffolded by dtm.

    pip install -r requirements.txt
    flask --app app run --port [[ port ]]
