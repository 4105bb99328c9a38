SUFFIX = " This HTTP triggered function executed successfully."
