"""The ops console: one application, served by a Lambda behind Cognito in AWS and by
`rung console` over the local world."""
