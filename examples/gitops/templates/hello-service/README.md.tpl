# [[ AppName ]]

A Flask service. GitHub Actions builds its image on every push to main and sets the new tag in
`helm/[[ AppName ]]/values.yaml`; Argo CD deploys the chart there (pushed by dtm on the first apply).
