image:
  repository: [[ AppName ]]
  tag: latest
service:
  port: [[ port ]]
