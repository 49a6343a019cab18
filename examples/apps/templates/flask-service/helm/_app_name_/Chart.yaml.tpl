apiVersion: v2
name: [[ AppName ]]
description: The Helm chart of [[ AppName ]].
version: 0.1.0
