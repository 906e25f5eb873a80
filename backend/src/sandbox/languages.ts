/** The sandbox's name for `languageRequirement`, defined with the other shared names in `lib/`. */
export { languageRequirement } from '../lib/vocabulary.js';
