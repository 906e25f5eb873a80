// The Files page alone, for the router's lazy route: other features import the light API from
// the index, and a page exported there would be bundled into their chunks instead of its own.
export { FilesPage } from './components/FilesPage';
