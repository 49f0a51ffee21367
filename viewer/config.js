// Deployment settings of the viewer (a static site). Locally the page and the API share an origin.
// On AWS, replace this file in the site bucket with the API's URL, e.g.
//   window.FACESVG_CONFIG = { apiBase: "https://abc123.execute-api.eu-west-1.amazonaws.com/prod" };
// A URL typed into the page's "API" settings (kept in localStorage) or ?api=… overrides it.
window.FACESVG_CONFIG = { apiBase: "", apiKey: "", samplePath: "sample/" };
