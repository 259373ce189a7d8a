import { properties } from './props/normalize-path.ts';
import { testSlice } from './property.ts';

testSlice(properties);
